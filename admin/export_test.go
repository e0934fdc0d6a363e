package admin

// DialErrorForTest exposes dialError to the external tests.
var DialErrorForTest = dialError
