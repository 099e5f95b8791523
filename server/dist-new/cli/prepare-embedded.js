// `pnpm db:prepare-embedded` (run by `pnpm install`): builds the migrated PGlite template that
// makes the first embedded start fast. It is only a shortcut, so a failure warns and exits 0.
import { buildTemplate, templateFile } from "../infra/embedded-template.js";
import { createLogger } from "../infra/logger.js";
const started = Date.now();
try {
    const file = await templateFile();
    const built = await buildTemplate(createLogger("warn"));
    process.stdout.write(`embedded database template ready in ${String(Date.now() - started)} ms: ${built === file ? built : file}\n`);
}
catch (error) {
    process.stderr.write(`warning: could not prepare the embedded database template (${error instanceof Error ? error.message : String(error)}); ` +
        "the first embedded start will initialise the database itself\n");
}
//# sourceMappingURL=prepare-embedded.js.map