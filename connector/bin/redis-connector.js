#!/usr/bin/env node
// The bin npm links at install time, before dist/ is built in a fresh clone of the repo.
require("../dist/cli.js");
