package a

func OnlyWindows() {}
