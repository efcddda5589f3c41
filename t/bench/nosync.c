/*
 * nosync.so: an LD_PRELOAD shim that turns fsync(2) and fdatasync(2) into
 * no-ops.  The benchmark runs Prosody with it once, to show how much of the
 * event latency is Prosody waiting for the disk; never for real use.
 */

int	fsync(int);
int	fdatasync(int);

int
fsync(int fd)
{
	(void)fd;
	return 0;
}

int
fdatasync(int fd)
{
	(void)fd;
	return 0;
}
