package config

import "testing"

// A config file of any content loads or fails with an error; validation
// of whatever loaded never panics.
func FuzzDecode(f *testing.F) {
	f.Add(Example)
	f.Add("port = 4100\n[nat]\nport_mapping = false\n")
	f.Add("max_upload = \"5Mbit\"\nbootstrap = []\n")
	f.Add("[resources]\nmax_memory = \"1e30GiB\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		c := Default(RoleDaemon)
		if err := c.decode(text); err != nil {
			return
		}
		_ = c.Validate()
		_ = c.ListenAddrs()
	})
}

func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"5Mbit", "2MB/s", "512MiB", "1e400", "-1", ".", "9223372036854775807GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRate(s); err == nil && r < 0 {
			t.Fatalf("ParseRate(%q) = %d", s, r)
		}
		if z, err := ParseSize(s); err == nil && z < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, z)
		}
	})
}
