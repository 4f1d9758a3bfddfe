// Command haderctl operates the HaderOS resilience engine.
package main

import (
	"os"

	"github.com/haderos/haderctl/internal/commands"
)

func main() {
	os.Exit(int(commands.Main()))
}
