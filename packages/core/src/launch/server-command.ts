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
   * none when `command` is given, else the package runner's. The recipe's own arguments
   * follow them.
   */
  args?: readonly string[];
}

/**
 * The command and arguments of a recipe's stdio transport: the host's `command` and
 * `args` when given (no arguments by default with a command of its own), else the
 * package runner's. For recipe authors, so every recipe treats these options alike.
 */
export function serverCommand(
  options: ServerCommandOptions,
  runner: { command: string; args: readonly string[] },
): { command: string; args: string[] } {
  const command = options.command ?? runner.command;
  const args = options.args ?? (options.command !== undefined ? [] : runner.args);
  return { command, args: [...args] };
}
