// Jest/Vitest `globalSetup` (see dist/globalSetup).
const setup = require("./dist/globalSetup");
module.exports = setup.default;
module.exports.default = setup.default;
