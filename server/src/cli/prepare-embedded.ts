// `pnpm db:prepare-embedded` (run by `pnpm install`): builds the migrated PGlite template that
// makes the first embedded start fast. It is only a shortcut, so a failure warns and exits 0.
import { loadConfig } from "../config.js";
import { buildTemplate, templateFile } from "../infra/database/embedded/template.js";
import { createLogger } from "../infra/logger.js";
import { JOB_QUEUES } from "../shared/job-queues.js";

const started = Date.now();
try {
  const file = await templateFile();
  // The queues with the default retry settings (a server configured otherwise updates them).
  const { jobs } = loadConfig({});
  const built = await buildTemplate(createLogger("warn"), {
    queues: JOB_QUEUES,
    retryLimit: jobs.retryLimit,
    retryDelaySeconds: jobs.retryDelaySeconds,
    timeoutSeconds: jobs.timeoutSeconds,
  });
  process.stdout.write(
    `embedded database template ready in ${String(Date.now() - started)} ms: ${built === file ? built : file}\n`,
  );
} catch (error) {
  process.stderr.write(
    `warning: could not prepare the embedded database template (${error instanceof Error ? error.message : String(error)}); ` +
      "the first embedded start will initialise the database itself\n",
  );
}
