module.exports = require('./lazy')('@aws-sdk/client-ssm');
