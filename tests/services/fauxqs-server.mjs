// Runs the fauxqs SQS emulator (npm package, pinned in package.json) for the
// tests, on 127.0.0.1 only (its own CLI listens on every interface), SQS JSON
// protocol only, state in memory:
//   node fauxqs-server.mjs PORT
// fauxqs asks for Node 22.5 because its optional persistence (unused here:
// no dataDir) imports `node:sqlite`; on Node 20 that import is answered with a
// stub that fails only if persistence were used.
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === "node:sqlite") {
    return {
      shortCircuit: true,
      url: "data:text/javascript,export class DatabaseSync { constructor() {" +
        " throw new Error('fauxqs persistence needs Node 22.5 (node:sqlite)'); } }",
    };
  }
  return next(specifier, context);
}`),
);

const port = Number.parseInt(process.argv[2] ?? "", 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node fauxqs-server.mjs PORT");
  process.exit(2);
}
const { buildApp } = await import("fauxqs");
const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on 127.0.0.1:${port}`);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    app.close().finally(() => process.exit(0));
  });
}
