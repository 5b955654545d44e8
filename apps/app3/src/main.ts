import { runBackend } from "@stickyring/backend";

await runBackend(3);
