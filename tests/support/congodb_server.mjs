// Runs CongoDB (a MongoDB-wire-protocol server, installed by scripts/install-congodb) on
// loopback for the tests:
//
//   node tests/support/congodb_server.mjs --lib DIR --port PORT
//
// Prints "listening PORT" once it accepts connections; stops on SIGTERM or SIGINT. Data is
// kept in memory only: a restart starts empty.
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const args = process.argv.slice(2);
const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 && at + 1 < args.length ? args[at + 1] : undefined;
};
const lib = option('--lib');
const port = Number(option('--port') ?? '27017');
if (!lib || !Number.isInteger(port)) {
    console.error('usage: congodb_server.mjs --lib DIR --port PORT');
    process.exit(2);
}

const { CongoServer } = await import(pathToFileURL(path.join(lib, 'congodb', 'index.js')).href);
const server = new CongoServer({ port, host: '127.0.0.1' });
await server.start();
console.log(`listening ${server.port}`);

let stopping = false;
const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
