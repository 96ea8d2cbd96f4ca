package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// A Vault cluster on loopback: raft storage, one api_addr and cluster_addr
// per node, initialised and unsealed by the harness, the followers joined
// with `vault operator raft join` (sys/storage/raft/join). Every node has
// its own plugin_directory holding a copy of the plugin binary, as a real
// deployment must: the catalog entry (name, command, sha256) is replicated,
// the binary is not.

// raftNode is one cluster member: a vaultServer in server mode whose
// storage is raft.
type raftNode struct {
	*vaultServer
	id          string
	clusterAddr string
	raftDir     string
	raftExtra   string // more lines of the raft storage stanza
}

type vaultCluster struct {
	t     *testing.T
	nodes []*raftNode
	token string
	key   string // the single unseal key share
}

// config keeps elections fast: performance_multiplier = 1 is raft's
// fastest timing (1 s heartbeat and election timeouts instead of 5 s with
// the default multiplier of 5); Vault exposes no finer raft timeouts.
// KMS_IT_RAFT_PERFORMANCE_MULTIPLIER overrides it, to measure failover
// with other settings (Vault's default is 5).
func (n *raftNode) config() string {
	mult := "1"
	if m := os.Getenv("KMS_IT_RAFT_PERFORMANCE_MULTIPLIER"); m != "" {
		mult = m
	}
	return fmt.Sprintf(`plugin_directory = %q
disable_mlock = true
api_addr = "http://%s"
cluster_addr = "https://%s"
storage "raft" {
  path = %q
  node_id = %q
  performance_multiplier = %s
%s}
listener "tcp" {
  address = %q
  cluster_address = %q
  tls_disable = true
}
`, n.pluginDir, n.addr, n.clusterAddr, n.raftDir, n.id, mult, n.raftExtra, n.addr, n.clusterAddr)
}

// startCluster starts size raft nodes, initialises the first, joins and
// unseals the others, waits until every node is a voter, and registers the
// plugin (by sha256) and mounts it at kms/ on the active node. The cluster
// is stopped when the test ends, its logs printed if it failed.
func startCluster(t *testing.T, size int) *vaultCluster {
	t.Helper()
	return startClusterWith(t, size, "")
}

// startClusterWith is startCluster with raftExtra added to every node's
// raft storage stanza (e.g. "max_entry_size = 32768\n").
func startClusterWith(t *testing.T, size int, raftExtra string) *vaultCluster {
	t.Helper()
	c := &vaultCluster{t: t}
	// Made before the cleanup below is registered, so that it is removed
	// after the logs in it were printed (cleanups run last first).
	base := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				fmt.Fprintf(os.Stderr, "==== %s (%s)\n", n.id, n.addr)
				n.dumpLog(os.Stderr)
			}
		}
		for _, n := range c.nodes {
			n.stopAndReap()
		}
	})
	for i := range size {
		dir := filepath.Join(base, fmt.Sprintf("node%d", i+1))
		pluginDir := filepath.Join(dir, "plugins")
		require.NoError(t, os.MkdirAll(pluginDir, 0o755))
		copyFile(t, filepath.Join(dev.pluginDir, pluginName), filepath.Join(pluginDir, pluginName))
		addr, err := freeAddr()
		require.NoError(t, err)
		caddr, err := freeAddr()
		require.NoError(t, err)
		n := &raftNode{
			vaultServer: &vaultServer{bin: dev.bin, pluginDir: pluginDir, dir: dir, addr: addr},
			id:          fmt.Sprintf("node%d", i+1), clusterAddr: caddr, raftDir: filepath.Join(dir, "raft"), raftExtra: raftExtra,
		}
		require.NoError(t, os.MkdirAll(n.raftDir, 0o700))
		c.nodes = append(c.nodes, n)
	}

	first := c.nodes[0]
	require.NoError(t, first.launch(first.config(), "server"))
	init, err := first.client.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	require.NoError(t, err)
	c.key, c.token = init.Keys[0], init.RootToken
	for _, n := range c.nodes {
		n.unsealKey, n.token = c.key, c.token
	}
	first.client.SetToken(c.token)
	c.unseal(first)
	c.waitActive(60 * time.Second)

	for _, n := range c.nodes[1:] {
		require.NoError(t, n.launch(n.config(), "server"))
		n.client.SetToken(c.token)
		_, err := n.client.Sys().RaftJoin(&api.RaftJoinRequest{LeaderAPIAddr: "http://" + first.addr})
		require.NoError(t, err, "%s joins", n.id)
		c.unseal(n)
	}
	// Autopilot promotes a joined node to voter after it has been stable for
	// server_stabilization_time (10 s by default); shorten it so that the
	// cluster can lose a node as soon as the test starts.
	_, err = first.client.Logical().Write("sys/storage/raft/autopilot/configuration",
		map[string]any{"server_stabilization_time": "2s"})
	require.NoError(t, err)
	c.waitVoters(size, 90*time.Second)

	active := c.active()
	sha, err := fileSHA256(filepath.Join(active.pluginDir, pluginName))
	require.NoError(t, err)
	// The catalog entry carries the plugin's environment to every node
	// (`vault plugin register -env VAULT_KMS_TEST_CLOCK=1`): it turns on the
	// test-only clock hook, kms/test/clock (sudo), with which the cluster
	// tests make periodic work fall due. The single-node server registers
	// the plugin without it, and checks that the path is absent there.
	require.NoError(t, active.client.Sys().RegisterPlugin(&api.RegisterPluginInput{
		Name: pluginName, Type: api.PluginTypeSecrets, Command: pluginName, SHA256: sha, Version: pluginVersion(),
		Env: []string{"VAULT_KMS_TEST_CLOCK=1"},
	}))
	require.NoError(t, active.client.Sys().Mount("kms", &api.MountInput{Type: pluginName, Config: kmsMountConfig()}))
	return c
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o755))
}

// unseal submits the key share until the node reports unsealed: a node
// that just joined needs it to answer the leader's challenge.
func (c *vaultCluster) unseal(n *raftNode) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, err := n.client.Sys().Unseal(c.key)
		if err == nil && !st.Sealed {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	c.t.Fatalf("%s did not unseal within 60s", n.id)
}

// active returns the node that reports itself active, or fails the test.
func (c *vaultCluster) active() *raftNode {
	c.t.Helper()
	n := c.waitActive(60 * time.Second)
	return n
}

// activeNow returns the node that reports itself the active node right now
// (asking only live nodes), or nil.
func (c *vaultCluster) activeNow() *raftNode {
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		l, err := n.client.Sys().Leader()
		if err == nil && l.IsSelf {
			return n
		}
	}
	return nil
}

func (c *vaultCluster) waitActive(timeout time.Duration) *raftNode {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n := c.activeNow(); n != nil {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no active node within %s", timeout)
	return nil
}

// standbys returns the live nodes other than the active one.
func (c *vaultCluster) standbys() []*raftNode {
	c.t.Helper()
	a := c.active()
	var out []*raftNode
	for _, n := range c.nodes {
		if n != a && n.running() {
			out = append(out, n)
		}
	}
	return out
}

// waitVoters waits until the raft configuration lists want voters.
func (c *vaultCluster) waitVoters(want int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		a := c.activeNow()
		if a != nil {
			st, err := a.client.Sys().RaftAutopilotState()
			if err == nil && st != nil {
				last = fmt.Sprintf("voters %v, non-voters %v", st.Voters, st.NonVoters)
				if len(st.Voters) >= want {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	c.t.Fatalf("raft did not reach %d voters within %s: %s", want, timeout, last)
}

// running says whether this harness has the node's process up.
func (v *vaultServer) running() bool {
	return v.cmd != nil && v.cmd.Process != nil && v.cmd.ProcessState == nil
}

// kill9 SIGKILLs Vault, as a crash would, and returns the PIDs of the
// plugin processes it had started.
func (v *vaultServer) kill9() []int {
	plugins := v.pluginPIDs()
	_ = v.cmd.Process.Kill()
	_ = v.cmd.Wait()
	v.log.Close()
	return plugins
}

// stopAndReap stops Vault if it runs, and SIGKILLs the plugin processes
// this Vault started that are still alive: until the plugin exits on its
// own when Vault dies (issue 18), a crash leaves them behind.
func (v *vaultServer) stopAndReap() {
	if !v.running() {
		return
	}
	plugins := v.pluginPIDs()
	v.stop()
	reap(plugins)
}

// reap SIGKILLs, by PID, the plugin processes of a Vault that is gone if
// they are still alive (the PID still names a vault-plugin-kms process).
func reap(pids []int) {
	for _, pid := range pids {
		if processName(pid) == pluginName[:15] {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// pluginPIDs lists the plugin processes whose parent is this Vault.
func (v *vaultServer) pluginPIDs() []int {
	if !v.running() {
		return nil
	}
	return childProcesses(v.cmd.Process.Pid, pluginName[:15])
}

// childProcesses lists the processes with parent ppid and the given comm
// (the kernel truncates it to 15 bytes), from /proc.
func childProcesses(ppid int, comm string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, parent, _, _ := procStat(pid)
		if parent == ppid && name == comm {
			out = append(out, pid)
		}
	}
	return out
}

func processName(pid int) string {
	name, _, _, _ := procStat(pid)
	return name
}

// procStat reads a process's comm, parent PID and state from
// /proc/<pid>/stat; comm may hold spaces, so the fields after ")" are split.
func procStat(pid int) (comm string, ppid int, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, 0, false
	}
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 2 {
		return "", 0, 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return s[open+1 : closing], ppid, fields[0][0], err == nil
}

// restartNode starts a killed or stopped node again with its data and
// unseals it; it rejoins the cluster it was a member of.
func (c *vaultCluster) restartNode(n *raftNode) {
	c.t.Helper()
	n.cmd = nil
	require.NoError(c.t, n.launch(n.config(), "server"))
	n.client.SetToken(c.token)
	c.unseal(n)
}

// waitStandby waits until the node is an unsealed standby that knows the
// active node.
func (c *vaultCluster) waitStandby(n *raftNode, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l, err := n.client.Sys().Leader()
		if err == nil && !l.IsSelf && l.LeaderAddress != "" {
			if h, err := n.client.Sys().Health(); err == nil && h.Standby && !h.Sealed {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New(n.id + " did not become a standby")
}
