using Keel.Blkback.Core;

namespace Keel.Blkback.Tests.Support;

public sealed class CountingNotifier : Notifier
{
    public int Notifications { get; private set; }

    public override void Notify() => Notifications++;
}
