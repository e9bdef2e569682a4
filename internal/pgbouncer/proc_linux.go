package pgbouncer

import "syscall"

// sysProcAttr kills pgbouncer with its parent, so a test that dies does
// not leave a pooler running. (Under root the switch to another account
// clears the signal, so there only Stop ends it.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
