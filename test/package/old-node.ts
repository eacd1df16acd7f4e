// Makes this Node report itself as 20.11.0, so a test can see what `bin/vigil.js` tells the user of an older
// Node without needing one installed: `node --import ./old-node.ts bin/vigil.js`.
Object.defineProperty(process, 'version', { value: 'v20.11.0' });
Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.11.0' } });
