// `mocha --require @redis-on-docker/local/mocha`: one local stack for the run (see dist/mochaHooks).
module.exports = require("./dist/mochaHooks");
