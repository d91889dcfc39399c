#!/usr/bin/env node
// The installed CLI: the built entry, which sets the heap up before it loads the commands.
import '../dist/cli/entry.js';
