module.exports = require('./lazy')('@aws-sdk/client-eks');
