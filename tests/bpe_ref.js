// bpe_ref.js - the reference ids: npm gpt-3-encoder on the same texts as
// tests/bpe_dump.c, with the same arguments and the same output format.
//	node bpe_ref.js --files LIST   each line of LIST names a file (UTF-8)
//	node bpe_ref.js --jsonl FILE   each line of FILE is a JSON string
// The encoder is loaded from $NODE_MODULES/gpt-3-encoder.
'use strict';
const fs = require('fs');
const path = require('path');

const modules = process.env.NODE_MODULES;
if (!modules) {
	process.stderr.write('bpe_ref.js: NODE_MODULES is not set\n');
	process.exit(2);
}
const { encode } = require(path.join(modules, 'gpt-3-encoder'));

// encodeLong - encode(TEXT) in segments.  Encoder.js appends each piece's
// ids with Array.concat, so one call is quadratic in the ids of a message
// (minutes for the corpus).  A cut just before a whitespace character that
// follows a non-whitespace character is always a boundary of the pre-token
// regex: no alternative matches across it (a run of letters, digits or
// others stops at whitespace, a whitespace run starts there, the regex never
// looks behind), so encoding the segments gives the same ids.
const SEGMENT = 2048;
function encodeLong(text) {
	if (text.length <= SEGMENT)
		return encode(text);
	const ids = [];
	let start = 0;
	while (start < text.length) {
		let cut = -1;
		for (let i = start + SEGMENT; i < text.length; i++) {
			if (/\s/u.test(text[i]) && !/\s/u.test(text[i - 1])) {
				cut = i;
				break;
			}
		}
		if (cut < 0)
			cut = text.length;
		for (const id of encode(text.slice(start, cut)))
			ids.push(id);
		start = cut;
	}
	return ids;
}

const [mode, file] = process.argv.slice(2);
if (!(mode === '--files' || mode === '--jsonl') || !file) {
	process.stderr.write('usage: node bpe_ref.js --files LIST | --jsonl FILE\n');
	process.exit(2);
}

const lines = fs.readFileSync(file, 'utf8').split('\n').filter(l => l !== '');
const out = [];
for (const line of lines) {
	const text = mode === '--files' ? fs.readFileSync(line, 'utf8')
		: JSON.parse(line);
	const ids = encodeLong(text);
	// An id the vocabulary lacks would print as "undefined": a mismatch.
	out.push(ids.map(String).join(' '));
	if (out.length >= 256) {
		fs.writeSync(1, out.join('\n') + '\n');
		out.length = 0;
	}
}
if (out.length)
	fs.writeSync(1, out.join('\n') + '\n');
