/*
 * bramble's pause: the init process of every pod sandbox.
 *
 * It holds the pod's namespaces open and does nothing else: SIGINT and
 * SIGTERM end it with status 0, SIGCHLD reaps every exited child (it is
 * PID 1 when the pod shares its PID namespace), and otherwise it sleeps in
 * pause() forever.  Written for bramble; no other project's source.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_terminate(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	(void)sig;
	/* Several children may have exited for one delivered SIGCHLD. */
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

static int install(int sig, void (*handler)(int)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int main(void) {
	if (getpid() != 1) {
		static const char warn[] = "pause: warning: not running as PID 1\n";
		(void)!write(2, warn, sizeof(warn) - 1);
	}
	if (install(SIGINT, on_terminate) != 0 || install(SIGTERM, on_terminate) != 0 ||
	    install(SIGCHLD, on_child) != 0) {
		return 2;
	}
	for (;;) {
		pause();
	}
}
