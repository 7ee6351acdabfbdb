// The .swcrc options for @swc/jest (decorators with metadata, as tsc emits them).
const { readFileSync } = require('node:fs');

const swcrc = JSON.parse(readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcrc.$schema;
module.exports = { ...swcrc, swcrc: false };
