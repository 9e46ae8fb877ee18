// The floor of benchmark 10's relay: a plain node process that spawns server-everything and
// pipes the bytes through both ways (no parsing, no config, no packages loaded), so that
// `latchkey run` can be set against an extra process in the path that does nothing else.
// Ends when the host closes stdin, as `latchkey run` does. Arguments: serverEntry.
import { spawn } from 'node:child_process';

const server = spawn(process.execPath, [process.argv[2], 'stdio'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
process.stdin.pipe(server.stdin);
server.stdout.pipe(process.stdout);
server.on('exit', (code) => process.exit(code ?? 1));
