// The PouchDB side of `yanpei bench`: the same records replicated node-to-hub
// by PouchDB, the peer sync engine. A hub-side PouchDB (LevelDB) is served over
// HTTPS with the CouchDB protocol by express-pouchdb; a node-side PouchDB
// (LevelDB) holds the records (loaded before the clock starts) and replicates
// them to it. Prints one JSON line: {"records": N, "seconds": S, "docs_written": W}.
//
// Usage: node bench.js RECORDS.json WORKDIR CERT.pem KEY.pem
// (the CA that signed CERT must be in NODE_EXTRA_CA_CERTS; the certificate names localhost).
'use strict';

const fs = require('fs');
const path = require('path');
const https = require('https');
const express = require('express');
const PouchDB = require('pouchdb-node');
const expressPouchDB = require('express-pouchdb');

async function main() {
  const [recordsFile, workdir, certFile, keyFile] = process.argv.slice(2);
  if (!keyFile) throw new Error('usage: node bench.js RECORDS.json WORKDIR CERT.pem KEY.pem');
  const records = JSON.parse(fs.readFileSync(recordsFile, 'utf8'));

  const serverDir = path.join(workdir, 'hub') + path.sep;
  fs.mkdirSync(serverDir, { recursive: true });
  const ServerPouch = PouchDB.defaults({ prefix: serverDir });
  const app = express();
  app.use('/', expressPouchDB(ServerPouch, {
    mode: 'minimumForPouchDB',
    configPath: path.join(workdir, 'config.json'),
    logPath: path.join(workdir, 'log.txt'),
  }));
  const server = https.createServer(
    { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;

  const node = new PouchDB(path.join(workdir, 'node'));
  const docs = records.map((r) => Object.assign({ _id: r.id }, r));
  for (let i = 0; i < docs.length; i += 1000) {
    await node.bulkDocs(docs.slice(i, i + 1000));
  }
  const remote = new PouchDB(`https://localhost:${port}/hub`);
  await remote.info(); // creates the database

  const started = process.hrtime.bigint();
  // Batches of 500 changes, as yanpei's node agent pushes.
  const result = await node.replicate.to(remote, { batch_size: 500 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const info = await remote.info();
  if (result.docs_written !== docs.length || info.doc_count !== docs.length) {
    throw new Error(`replicated ${result.docs_written}, hub holds ${info.doc_count}, expected ${docs.length}`);
  }
  process.stdout.write(JSON.stringify({ records: docs.length, seconds, docs_written: result.docs_written }) + '\n');
  await node.close();
  await remote.close();
  server.close();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`pouchdb bench failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
