using System.Runtime;
using Keel.Runtime;

namespace Keel.Blkback
{
    /// <summary>
    /// blkback's entry: it starts the virtio-blk devices it was given, then does what its command line
    /// says: direct=MiB runs the driver alone over vda (DirectTest) and powers off.
    /// </summary>
    internal static class BlockBackend
    {
        [RuntimeExport("keel_guest_main")]
        private static void Main()
        {
            SharedInfo.Map();
            PhysicalDisks.Start();
            string command = DomainEntry.CommandLine;
            if (command.StartsWith("direct=")) DirectTest.Run(command.Substring(7));
        }
    }
}
