package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

func cmdVersion(args []string, sio stdio) error {
	fs := newFlags("version", "", sio.errout)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	bi, ok := debug.ReadBuildInfo()
	_, err = fmt.Fprint(sio.out, versionText(bi, ok))
	return err
}

// versionText describes the build: the module's version ("(devel)" for a
// build from a source tree), the VCS revision, its time and whether the
// tree had changes, and the Go toolchain and target.
func versionText(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "xebpf: no build information (a binary built without module support)\n"
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	version := bi.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "xebpf %s\n", version)
	if bi.Main.Path != "" {
		fmt.Fprintf(&b, "module: %s %s\n", bi.Main.Path, version)
	}
	if rev := set["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision: %s", rev)
		var notes []string
		if t := set["vcs.time"]; t != "" {
			notes = append(notes, t)
		}
		if set["vcs.modified"] == "true" {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("revision: unknown (built without version control information)\n")
	}
	target := strings.TrimSpace(set["GOOS"] + "/" + set["GOARCH"])
	if target == "/" {
		target = ""
	}
	fmt.Fprintf(&b, "go: %s", bi.GoVersion)
	if target != "" {
		fmt.Fprintf(&b, " %s", target)
	}
	b.WriteByte('\n')
	return b.String()
}
