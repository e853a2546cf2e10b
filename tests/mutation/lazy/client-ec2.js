module.exports = require('./lazy')('@aws-sdk/client-ec2');
