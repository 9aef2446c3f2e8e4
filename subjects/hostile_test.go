package subjects

import "strings"

// Hostile values that every table below exercises, by name, so that a reader
// can check each function's answer for each of them.
var (
	long10k = strings.Repeat("a", 10000) // far over every limit
	max1024 = strings.Repeat("a", 511) + "." + strings.Repeat("b", 512)
	over1k  = max1024 + "c"
	emoji   = "\U0001F600" // 😀
	badUTF8 = "\xff\xfe"
)
