package csrc

// DefaultFrontEnd is the front end NewParser uses.
const DefaultFrontEnd = FrontEndGo

// HasFrontEnd reports whether this build can parse C with the default
// front end.
const HasFrontEnd = DefaultFrontEnd == FrontEndGo || HasTreeSitter
