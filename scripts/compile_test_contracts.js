#!/usr/bin/env node
// Compile tests/fixtures/eth/TestToken.sol with the npm solc (0.8.26, pinned in package.json)
// into tests/fixtures/eth/TestToken.json: per contract its ABI, creation bytecode and method
// identifiers. Run from the repository root: `node scripts/compile_test_contracts.js`.
// The output is committed, so the tests never need a compiler; rerun it after editing the .sol.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = path.join(__dirname, "..", "tests", "fixtures", "eth");
const source = fs.readFileSync(path.join(dir, "TestToken.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestToken.sol": { content: source } },
  settings: {
    // anvil runs the latest hardfork; shanghai bytecode (no MCOPY/TSTORE) runs everywhere.
    evmVersion: "shanghai",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.methodIdentifiers"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const contracts = {};
for (const [name, c] of Object.entries(output.contracts["TestToken.sol"])) {
  contracts[name] = {
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    methodIdentifiers: c.evm.methodIdentifiers,
  };
}
const result = {
  _meta: { compiler: "solc " + solc.version(), evmVersion: input.settings.evmVersion, source: "TestToken.sol" },
  contracts,
};
fs.writeFileSync(path.join(dir, "TestToken.json"), JSON.stringify(result, null, 1) + "\n");
console.log("wrote " + path.join("tests", "fixtures", "eth", "TestToken.json"));
