// node stack: read the payload, report progress, write a result.
const fs = require("fs");
const progress = (percent, msg) =>
  fs.writeFileSync(process.env.PROGRESS_FILE, JSON.stringify({ percent, msg }));

const payload = JSON.parse(fs.readFileSync(process.env.PAYLOAD_FILE, "utf8"));
progress(50, "halfway");
console.log("node worker got:", JSON.stringify(payload));
progress(100, "done");
fs.writeFileSync(process.env.RESULT_FILE, JSON.stringify({ stack: "node", payload }));
