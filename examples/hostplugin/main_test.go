package main

func Example() {
	if err := run("."); err != nil {
		panic(err)
	}
	// Output:
	// method 1 from 0x0a000001 /index.html   -> allow (status 0)
	// method 2 from 0x0a000001 /admin/users  -> deny (status 403)
	// method 1 from 0x0a000001 /admin/users  -> allow (status 0)
	// method 1 from 0x0a000001 /index.html   -> throttle (status 429)
	// method 1 from 0x0a000002 /index.html   -> allow (status 0)
}
