package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a data rate in bits per second; 0 means unlimited.
type Rate int64

// ParseRate reads "5Mbit", "5 Mbit/s", "500kbit", "1Gbps", "2MB/s" (bytes),
// "1000000" (bits/s), or "0" / "" / "unlimited". Prefixes are decimal (k =
// 1000); a lower-case b means bits, an upper-case B bytes.
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "0" || strings.EqualFold(t, "unlimited") {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "ps")
	num, unit := splitNumber(t)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("rate %q: want a number and a unit, e.g. 5Mbit", s)
	}
	mult := 1.0
	if unit != "" {
		switch unit[0] {
		case 'k', 'K':
			mult, unit = 1e3, unit[1:]
		case 'm', 'M':
			mult, unit = 1e6, unit[1:]
		case 'g', 'G':
			mult, unit = 1e9, unit[1:]
		}
	}
	switch unit {
	case "", "b", "bit", "bits":
	case "B", "Byte", "Bytes", "byte", "bytes":
		mult *= 8
	default:
		return 0, fmt.Errorf("rate %q: unknown unit (want bit, kbit, Mbit, Gbit, or B, kB, MB per second)", s)
	}
	r := v * mult
	if r > math.MaxInt64/2 {
		return 0, fmt.Errorf("rate %q: too large", s)
	}
	if r > 0 && r < 8000 {
		return 0, fmt.Errorf("rate %q: below 8 kbit/s, which carries no stream; use 0 for unlimited", s)
	}
	return Rate(r), nil
}

func (r Rate) String() string {
	switch {
	case r == 0:
		return "unlimited"
	case r%1e9 == 0:
		return fmt.Sprintf("%dGbit", r/1e9)
	case r%1e6 == 0:
		return fmt.Sprintf("%dMbit", r/1e6)
	case r%1e3 == 0:
		return fmt.Sprintf("%dkbit", r/1e3)
	}
	return fmt.Sprintf("%dbit", int64(r))
}

func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Size is a number of bytes.
type Size int64

// ParseSize reads "512MiB", "1GiB", "500MB", "64k" or a plain byte count.
// KiB/MiB/GiB are binary, kB/MB/GB decimal.
func ParseSize(s string) (Size, error) {
	num, unit := splitNumber(strings.TrimSpace(s))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("size %q: want a number and a unit, e.g. 512MiB", s)
	}
	mults := map[string]float64{
		"": 1, "B": 1,
		"k": 1e3, "kB": 1e3, "K": 1e3, "KB": 1e3, "KiB": 1 << 10,
		"M": 1e6, "MB": 1e6, "MiB": 1 << 20,
		"G": 1e9, "GB": 1e9, "GiB": 1 << 30,
	}
	m, ok := mults[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit (want B, KiB, MiB, GiB, kB, MB, GB)", s)
	}
	if v*m > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return Size(v * m), nil
}

func (s Size) String() string {
	switch {
	case s != 0 && s%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", s>>30)
	case s != 0 && s%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", s>>20)
	case s != 0 && s%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", s>>10)
	}
	return fmt.Sprintf("%dB", int64(s))
}

func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Duration is a time.Duration written the Go way ("10s", "2m").
type Duration time.Duration

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: want e.g. 10s or 2m", b)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// splitNumber splits "5.5Mbit" into "5.5" and "Mbit", dropping spaces
// between them.
func splitNumber(s string) (num, unit string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}
