// Jest `globalTeardown`, the pair of ./global-setup.
module.exports = require("./dist/globalSetup").globalTeardown;
