// The command line: picks the command, answers --help and --version, and exits with the command's code.
import pkg from "../../package.json";
import type { Config } from "../platform/config.ts";
import { checkConfigCommand } from "./check.ts";
import { healthcheckCommand, historyCommand, options, statusCommand, syncCommand } from "./commands.ts";
import { EXIT, fail, loadConfig } from "./common.ts";
import { COMMAND_USAGE, COMMANDS, type Command, USAGE } from "./usage.ts";

export async function runCli(argv: string[], serve: (config: Config) => Promise<void>): Promise<void> {
  const [command = "serve", ...rest] = argv;
  if (command === "-h" || command === "--help") return print(USAGE);
  if (command === "-v" || command === "--version") return print(`search-sync ${pkg.version}`);
  if (command === "help") {
    if (rest[0] === undefined) return print(USAGE);
    if (isCommand(rest[0])) return print(COMMAND_USAGE[rest[0]]);
    fail(`unknown command "${rest[0]}"\n\n${USAGE}`);
  }
  if (!isCommand(command)) fail(command.startsWith("-") ? `Unknown option '${command}'\n\n${USAGE}` : `unknown command "${command}"\n\n${USAGE}`);
  // Options end at "--": what follows is an argument, even "--help".
  const flags = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (flags.includes("--help") || flags.includes("-h")) return print(COMMAND_USAGE[command]);
  switch (command) {
    case "serve":
      options("serve", rest, {});
      return serve(loadConfig());
    case "sync":
      return process.exit(await syncCommand(loadConfig(), rest));
    case "status":
      return process.exit(await statusCommand(loadConfig(), rest));
    case "history":
      return process.exit(await historyCommand(loadConfig(), rest));
    case "healthcheck":
      return process.exit(await healthcheckCommand(rest));
    case "check-config":
      return process.exit(await checkConfigCommand(rest));
  }
}

function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
  process.exitCode = EXIT.ok;
}
