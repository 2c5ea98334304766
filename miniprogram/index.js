// The entry DevTools' 构建 npm loads for require('@wxnotify/miniprogram'):
// the package root is its build directory (package.json "miniprogram": "."),
// and a package name alone resolves to index.js there.
module.exports = require('./wxnotify.js')
