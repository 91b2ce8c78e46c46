// A Cosmos DB SQL-API server for tests: @vercel/cosmosdb-server over HTTPS with keep-alive, on 127.0.0.1.
//
// Usage: node cosmos_server.js CERT_FILE KEY_FILE
// Prints "listening <port>" once bound to a free port; exits when stdin closes (its parent went away).
//
// The package's CLI is not used: it answers every request with "Connection: close" (a new TLS handshake per
// call) and ships an expired certificate. NODE_PATH must point at the node_modules folder holding the package.
"use strict";

const fs = require("fs");

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) {
  console.error("usage: node cosmos_server.js CERT_FILE KEY_FILE");
  process.exit(2);
}

// Patched at set-up, not in node_modules: the package's read-document handler dereferences the stored
// document before checking that it exists, so a point read of a missing item answers 500 where Cosmos DB
// answers 404. routes.js captures the handler when it is first loaded, so the wrapper must be installed
// before the package's entry point is required.
const readDocument = require("@vercel/cosmosdb-server/lib/handler/read-document");
const partitionHeader = require("@vercel/cosmosdb-server/lib/utils/get-partition-from-header");
const originalReadDocument = readDocument.default;
readDocument.default = (account, req, res, params) => {
  const collection = account.database(params.dbId).collection(params.collId);
  const header = partitionHeader.default(req);
  if (collection.read() && header !== undefined) {
    let document;
    try {
      const key = partitionHeader.parsePartitionKey(header, params.docId);
      document = collection.document(params.docId, key).read();
    } catch (error) {
      document = undefined; // unparsable header: let the original handler report it
    }
    if (document === null || document === undefined) {
      res.statusCode = 404;
      return {
        code: "NotFound",
        message: "Entity with the specified id does not exist in the system.",
      };
    }
  }
  return originalReadDocument(account, req, res, params);
};

// Transactional batches: the Python SDK sends a batch's partition key once, in the x-ms-documentdb-partitionkey
// header (azure/cosmos/_base.py, _format_batch_operations writes no per-operation key), which is what Cosmos DB
// reads for a transactional batch; the package's batch handler (handler/batch-documents.js) reads a key from
// each operation instead, as in the bulk format, and fails without one. Give every operation the header's key.
// The package also runs a batch's operations one by one without rolling back earlier ones when a later one
// fails (Cosmos DB applies all or none): writers that put their conditional operation first get the same result.
const jsonBody = require("@vercel/cosmosdb-server/lib/json");
const originalJson = jsonBody.default;
jsonBody.default = async (req) => {
  const body = await originalJson(req);
  const header = partitionHeader.default(req);
  const isBatch = String(req.headers["x-ms-cosmos-is-batch-request"] || "").toLowerCase() === "true";
  if (isBatch && header !== undefined && Array.isArray(body)) {
    for (const operation of body) {
      if (operation && operation.partitionKey === undefined) {
        operation.partitionKey = header;
      }
    }
  }
  return body;
};

const { createHttpsServer } = require("@vercel/cosmosdb-server");

const server = createHttpsServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  keepAlive: true,
});
server.keepAliveTimeout = 30000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.stdin.resume();
process.stdin.on("end", () => {
  server.close();
  process.exit(0);
});
