/**
 * How a recipe starts its server. By default a recipe runs the server through its
 * package runner (`npx -y <package>@<version>`, `uvx <package>`), which downloads it on
 * first use. A host that ships the server, or runs it another way, names the program.
 */
export interface ServerCommandOptions {
  /** The program to run instead of the package runner, for example `process.execPath`. */
  command?: string;
  /**
   * Its arguments, for example the path of the installed server's entry file. Default:
   * none when `command` is given. The recipe's own arguments follow them.
   */
  args?: readonly string[];
}

/** The command and arguments of a recipe's transport. Internal. */
export function serverCommand(
  options: ServerCommandOptions,
  fallback: { command: string; args: readonly string[] },
): { command: string; args: string[] } {
  const command = options.command ?? fallback.command;
  const args = options.args ?? (options.command !== undefined ? [] : fallback.args);
  return { command, args: [...args] };
}
