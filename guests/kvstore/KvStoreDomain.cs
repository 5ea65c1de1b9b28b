using System;
using System.Runtime;
using Keel.Drivers.Blkfront;
using Keel.Runtime;

namespace Keel.Guests.KvStore;

/// <summary>
/// A key-value store that outlives the machine: its command line is a list of operations
/// ("put colour=blue;put n=42;get colour;del n;list", see <see cref="KvCommands"/>) performed against an
/// append-only log on xvda (<see cref="KvFormat"/>), which is replayed at start to rebuild the table. Every
/// put and delete is on the disk, acknowledged by the back-end, before it is reported, so a later boot on the
/// same disk file finds it.
/// </summary>
internal static class KvStoreDomain
{
    private const ulong ConnectTimeoutNs = 120_000_000_000;

    [RuntimeExport("keel_guest_main")]
    private static void Main()
    {
        SharedInfo.Map();
        Grants.Initialise();
        StoreClient.Connect();
        var front = BlockFront.Open(0);
        if (front == null)
        {
            DomainConsole.WriteLine("kv: no xvda was given to this domain (disk = [...] in the manifest)");
            return;
        }
        if (!front.WaitConnected(ConnectTimeoutNs))
        {
            DomainConsole.WriteLine("kv: xvda never connected");
            return;
        }
        var disk = BlockDisk.Create(front);
        if (disk == null)
        {
            DomainConsole.WriteLine("kv: out of memory for disk buffers");
            return;
        }
        var session = new KvSession(disk, new DomainOutput());
        if (!session.Open()) return;
        session.Run(DomainEntry.CommandLine);
        session.Summary();
    }

    /// <summary>Each line straight from the store's line buffer to console_io: nothing is allocated per line.</summary>
    private sealed unsafe class DomainOutput : KvConsole
    {
        private const int Chunk = 128;

        public override void WriteLine(ReadOnlySpan<char> line)
        {
            byte* buffer = stackalloc byte[Chunk];
            int used = 0;
            for (int i = 0; i <= line.Length; i++)
            {
                // The kernel holds a domain's output back until its newline, so a line may go in several writes.
                buffer[used++] = i == line.Length ? (byte)'\n' : line[i] < 0x80 ? (byte)line[i] : (byte)'?';
                if (used < Chunk && i < line.Length) continue;
                Hypercall.ConsoleWrite(buffer, used);
                used = 0;
            }
        }
    }
}
