module.exports = require('./lazy')('@aws-sdk/client-auto-scaling');
