import CElfutils
