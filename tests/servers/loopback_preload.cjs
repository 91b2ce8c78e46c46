// Loaded with `node --require` so a test server that calls `listen(port)` with no host binds 127.0.0.1
// instead of every interface. Any host the server passes is replaced too: tests only ever use loopback.
'use strict';
const net = require('net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    // listen(options[, callback]); a handle or fd ({_handle} / {fd}) is passed through untouched.
    if (!('fd' in first) && !('_handle' in first) && !('handle' in first) && !('path' in first)) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (first === undefined || typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen([port][, host][, backlog][, callback])
    if (args.length === 0) {
      args.push(0);
    }
    if (typeof args[1] === 'string') {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  }
  return originalListen.apply(this, args);
};
