// Uploads one file with tus-js-client (Node), as the phone apps do; prints the outcome as JSON on stdout.
// usage: node tus_js_upload.js ENDPOINT TOKEN FILE CHUNK_SIZE SHA256 [with-creation-data]
const fs = require("fs");
const path = require("path");
const tus = require("tus-js-client");

const [endpoint, token, file, chunkSize, sha256, mode] = process.argv.slice(2);
const size = fs.statSync(file).size;
let materialId = null;
let duplicate = null;

const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadSize: size,
  chunkSize: Number(chunkSize),
  retryDelays: [0, 200, 500],
  uploadDataDuringCreation: mode === "with-creation-data",
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: path.basename(file), filetype: "application/pdf", sha256, title: "tus-js-client 上传" },
  onAfterResponse(_req, res) {
    if (res.getHeader("Liufang-Material-Id")) {
      materialId = Number(res.getHeader("Liufang-Material-Id"));
      duplicate = res.getHeader("Liufang-Duplicate") === "true";
    }
  },
  onError(error) {
    console.error(String(error));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, materialId, duplicate }));
  },
});
upload.start();
