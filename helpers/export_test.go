package helpers

// SipHash24ForTest exposes sipHash24 to the external tests.
var SipHash24ForTest = sipHash24
