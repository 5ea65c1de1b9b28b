using System;
using System.Collections.Generic;
using System.Threading;

namespace Keel.Ringlib.Tests.Interleaving;

/// <summary>How stores reach shared memory during exploration.</summary>
public enum MemoryModel
{
    /// <summary>Every store is visible to the other thread at once.</summary>
    SequentiallyConsistent,

    /// <summary>x86-64's model: each thread's stores wait in a FIFO store buffer (its own loads see them)
    /// until the explorer chooses to flush one, or a full barrier, a notification, a sleep or the thread's end
    /// drains them. This is what lets a store and a later load of another location be seen out of order.</summary>
    TotalStoreOrder,
}

/// <summary>What an exploration found.</summary>
public sealed class ExplorationResult
{
    public long Executions { get; set; }

    public long Violations { get; set; }

    public string FirstViolation { get; set; }

    public string FirstViolationSchedule { get; set; }

    public List<string> Errors { get; } = new();

    public bool Exhausted { get; set; }
}

/// <summary>
/// A stateless model checker for two threads (a producer, id 0, and a consumer, id 1) that run real code on
/// real threads but only one at a time: every access to a shared ring index stops at a scheduling point where
/// the explorer decides who goes next. It enumerates every schedule with at most <c>preemptionBound</c>
/// costly choices (switching away from a thread that could go on, or flushing a store early), depth first,
/// by replaying a prefix of recorded choices and trying the next alternative at the deepest point that has
/// one. The consumer sleeps through <see cref="SleepUntilNotified"/> and the producer wakes it through
/// <see cref="Notify"/>, a latched event like a Xen event channel. After each execution a check runs with
/// both threads stopped; it reports a violation by returning a description.
/// </summary>
public sealed unsafe class Explorer : IDisposable
{
    public const int Producer = 0;
    public const int Consumer = 1;

    private const int StepLimit = 10_000;

    /// <summary>The explorer the ISharedMemoryAccess shims talk to while an exploration runs.</summary>
    public static Explorer Active { get; private set; }

    private static readonly object ActiveLock = new();

    [ThreadStatic] private static int t_self;
    [ThreadStatic] private static bool t_isWorker;

    private readonly MemoryModel _model;
    private readonly int _preemptionBound;
    private readonly Action _reset;
    private readonly Action<Explorer> _producer;
    private readonly Action<Explorer> _consumer;
    private readonly Func<Explorer, string> _check;
    private readonly SemaphoreSlim[] _gates = { new(0), new(0) };
    private readonly SemaphoreSlim _executionDone = new(0);
    private readonly SemaphoreSlim _parked = new(0);
    private readonly Thread[] _threads = new Thread[2];
    private readonly List<(nint Address, uint Value)>[] _buffers = { new(), new() };
    private readonly List<Decision> _path = new();
    private List<int> _prefix = new();

    private readonly ThreadState[] _state = new ThreadState[2];
    private bool _pending;
    private bool _abort;
    private bool _shutdown;
    private int _budgetUsed;
    private int _steps;
    private string _threadError;

    public Explorer(MemoryModel model, int preemptionBound, Action reset, Action<Explorer> producer, Action<Explorer> consumer, Func<Explorer, string> check)
    {
        _model = model;
        _preemptionBound = preemptionBound;
        _reset = reset;
        _producer = producer;
        _consumer = consumer;
        _check = check;
    }

    private enum ThreadState
    {
        Runnable,
        Asleep,
        Finished,
    }

    private enum ActionKind
    {
        Run,
        Flush,
    }

    private readonly record struct Choice(ActionKind Kind, int Thread, int Cost);

    private sealed record Decision(int Chosen, Choice[] Choices, int BudgetBefore);

    /// <summary>Notifications sent in this execution.</summary>
    public int Notifications { get; private set; }

    /// <summary>Times the consumer went to sleep in this execution.</summary>
    public int Sleeps { get; private set; }

    /// <summary>True when the execution ended with the consumer asleep.</summary>
    public bool ConsumerAsleep => _state[Consumer] == ThreadState.Asleep;

    /// <summary>True when a notification is latched and not yet taken by the consumer.</summary>
    public bool NotificationPending => _pending;

    /// <summary>Every store performed by the programs in this execution, in program order per thread.</summary>
    public List<(int Thread, nint Address, uint Value)> Stores { get; } = new();

    /// <summary>Runs every schedule within the bound, or stops at the first violation when asked to.</summary>
    public ExplorationResult Explore(bool stopAtFirstViolation, long maxExecutions)
    {
        var result = new ExplorationResult();
        lock (ActiveLock)
        {
            Active = this;
            try
            {
                StartThreads();
                while (true)
                {
                    string violation = RunOneExecution();
                    result.Executions++;
                    if (_threadError != null)
                    {
                        result.Errors.Add(_threadError + " schedule: " + DescribePath());
                        break;
                    }

                    if (violation != null)
                    {
                        result.Violations++;
                        if (result.FirstViolation == null)
                        {
                            result.FirstViolation = violation;
                            result.FirstViolationSchedule = DescribePath();
                        }

                        if (stopAtFirstViolation)
                        {
                            break;
                        }
                    }

                    if (!NextPrefix())
                    {
                        result.Exhausted = true;
                        break;
                    }

                    if (result.Executions >= maxExecutions)
                    {
                        break;
                    }
                }
            }
            finally
            {
                StopThreads();
                Active = null;
            }
        }

        return result;
    }

    public void Dispose()
    {
        foreach (SemaphoreSlim gate in _gates)
        {
            gate.Dispose();
        }

        _executionDone.Dispose();
        _parked.Dispose();
    }

    // Setup code run by the test itself (between executions, on its own thread) touches memory directly.

    /// <summary>A load of a shared index, after a scheduling point. Under TSO a thread sees its own buffered stores.</summary>
    public uint Read(uint* address)
    {
        if (!t_isWorker)
        {
            return *address;
        }

        SchedulingPoint();
        List<(nint Address, uint Value)> buffer = _buffers[t_self];
        for (int i = buffer.Count - 1; i >= 0; i--)
        {
            if (buffer[i].Address == (nint)address)
            {
                return buffer[i].Value;
            }
        }

        return *address;
    }

    /// <summary>A store to a shared index, after a scheduling point; under TSO it goes to the store buffer.</summary>
    public void Write(uint* address, uint value)
    {
        if (!t_isWorker)
        {
            *address = value;
            return;
        }

        SchedulingPoint();
        Stores.Add((t_self, (nint)address, value));
        if (_model == MemoryModel.TotalStoreOrder)
        {
            _buffers[t_self].Add(((nint)address, value));
        }
        else
        {
            *address = value;
        }
    }

    /// <summary>A full fence: the calling thread's buffered stores reach memory before its next load.</summary>
    public void FullBarrier()
    {
        if (t_isWorker)
        {
            Drain(t_self);
        }
    }

    /// <summary>The producer sends an event to the consumer (latched, like an event channel's pending bit).
    /// Sending is a hypercall, so the sender's store buffer drains.</summary>
    public void Notify()
    {
        SchedulingPoint();
        Drain(t_self);
        Notifications++;
        _pending = true;
        if (_state[Consumer] == ThreadState.Asleep)
        {
            _state[Consumer] = ThreadState.Runnable;
        }
    }

    /// <summary>The consumer blocks until an event arrives; a latched event returns at once. Returns false when
    /// the exploration ends the execution instead (the caller's program must then return).</summary>
    public bool SleepUntilNotified()
    {
        SchedulingPoint();
        int self = t_self;
        Drain(self);
        if (_pending)
        {
            _pending = false;
            return true;
        }

        _state[self] = ThreadState.Asleep;
        Sleeps++;
        HandOff(self);
        _gates[self].Wait();
        if (_abort || _shutdown)
        {
            return false;
        }

        _pending = false;
        return true;
    }

    private void StartThreads()
    {
        _shutdown = false;
        for (int id = 0; id < 2; id++)
        {
            int self = id;
            Action<Explorer> program = id == Producer ? _producer : _consumer;
            _threads[id] = new Thread(() => WorkerLoop(self, program)) { IsBackground = true, Name = id == Producer ? "explorer-producer" : "explorer-consumer" };
            _threads[id].Start();
        }
    }

    private void StopThreads()
    {
        _shutdown = true;
        foreach (SemaphoreSlim gate in _gates)
        {
            gate.Release();
        }

        foreach (Thread thread in _threads)
        {
            thread?.Join(TimeSpan.FromSeconds(10));
        }
    }

    private void WorkerLoop(int self, Action<Explorer> program)
    {
        t_self = self;
        t_isWorker = true;
        while (true)
        {
            _gates[self].Wait();
            if (_shutdown)
            {
                return;
            }

            try
            {
                program(this);
            }
            catch (Exception e) when (!_shutdown)
            {
                _threadError ??= (self == Producer ? "producer: " : "consumer: ") + e;
            }
            catch (Exception)
            {
                // The exploration is shutting down and unwound this program.
                return;
            }

            if (_shutdown)
            {
                return;
            }

            if (_abort)
            {
                _parked.Release();
                continue;
            }

            Drain(self);
            _state[self] = ThreadState.Finished;
            HandOff(self);
        }
    }

    /// <summary>One execution: reset shared state, choose who starts, wait until no thread can run, check.</summary>
    private string RunOneExecution()
    {
        _reset();
        _path.Clear();
        _budgetUsed = 0;
        _steps = 0;
        _pending = false;
        _abort = false;
        Notifications = 0;
        Sleeps = 0;
        Stores.Clear();
        _buffers[0].Clear();
        _buffers[1].Clear();
        _state[Producer] = ThreadState.Runnable;
        _state[Consumer] = ThreadState.Runnable;

        int first = Decide(new[] { new Choice(ActionKind.Run, Producer, 0), new Choice(ActionKind.Run, Consumer, 0) });
        _gates[first].Release();
        if (!_executionDone.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("an execution did not finish: " + DescribePath());
        }

        string violation = _threadError == null ? _check(this) : null;

        // The consumer may be blocked in SleepUntilNotified: release it so that its program returns.
        if (_state[Consumer] == ThreadState.Asleep)
        {
            _abort = true;
            _gates[Consumer].Release();
            if (!_parked.Wait(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("the consumer did not stop after an execution");
            }
        }

        return violation;
    }

    /// <summary>Called by the running thread before each shared access: decide whether it goes on, another
    /// thread runs instead, or a buffered store reaches memory first.</summary>
    private void SchedulingPoint()
    {
        int self = t_self;
        if (++_steps > StepLimit)
        {
            throw new InvalidOperationException("more than " + StepLimit + " shared accesses in one execution: a loop that never ends");
        }

        while (true)
        {
            var choices = new List<Choice> { new(ActionKind.Run, self, 0) };
            int other = 1 - self;
            if (_state[other] == ThreadState.Runnable)
            {
                choices.Add(new Choice(ActionKind.Run, other, 1));
            }

            AddFlushChoices(choices);
            Choice chosen = choices[Decide(choices.ToArray())];
            if (chosen.Kind == ActionKind.Flush)
            {
                FlushOldest(chosen.Thread);
                continue;
            }

            if (chosen.Thread == self)
            {
                return;
            }

            _gates[other].Release();
            _gates[self].Wait();
            if (_shutdown)
            {
                throw new OperationCanceledException("the exploration stopped");
            }

            return;
        }
    }

    /// <summary>The calling thread stops running (asleep or finished): let another run, or end the execution.</summary>
    private void HandOff(int self)
    {
        int other = 1 - self;
        while (true)
        {
            if (_state[other] != ThreadState.Runnable)
            {
                Drain(Producer);
                Drain(Consumer);
                _executionDone.Release();
                return;
            }

            var choices = new List<Choice> { new(ActionKind.Run, other, 0) };
            AddFlushChoices(choices);
            Choice chosen = choices[Decide(choices.ToArray())];
            if (chosen.Kind == ActionKind.Flush)
            {
                FlushOldest(chosen.Thread);
                continue;
            }

            _gates[other].Release();
            return;
        }
    }

    private void AddFlushChoices(List<Choice> choices)
    {
        for (int t = 0; t < 2; t++)
        {
            if (_buffers[t].Count > 0)
            {
                choices.Add(new Choice(ActionKind.Flush, t, 1));
            }
        }
    }

    /// <summary>Picks an alternative: the replayed one while inside the prefix, else the first (free) one.
    /// A point with a single alternative is not recorded.</summary>
    private int Decide(Choice[] choices)
    {
        if (choices.Length == 1)
        {
            return 0;
        }

        int depth = _path.Count;
        int chosen = depth < _prefix.Count ? _prefix[depth] : 0;
        if (chosen >= choices.Length)
        {
            throw new InvalidOperationException("replay diverged: the programs are not deterministic");
        }

        _path.Add(new Decision(chosen, choices, _budgetUsed));
        _budgetUsed += choices[chosen].Cost;
        return chosen;
    }

    /// <summary>The next schedule in depth-first order: the deepest decision with an untried alternative
    /// that fits the budget.</summary>
    private bool NextPrefix()
    {
        for (int d = _path.Count - 1; d >= 0; d--)
        {
            Decision decision = _path[d];
            for (int j = decision.Chosen + 1; j < decision.Choices.Length; j++)
            {
                if (decision.BudgetBefore + decision.Choices[j].Cost <= _preemptionBound)
                {
                    var prefix = new List<int>(d + 1);
                    for (int k = 0; k < d; k++)
                    {
                        prefix.Add(_path[k].Chosen);
                    }

                    prefix.Add(j);
                    _prefix = prefix;
                    return true;
                }
            }
        }

        return false;
    }

    private void FlushOldest(int thread)
    {
        (nint address, uint value) = _buffers[thread][0];
        _buffers[thread].RemoveAt(0);
        *(uint*)address = value;
    }

    private void Drain(int thread)
    {
        while (_buffers[thread].Count > 0)
        {
            FlushOldest(thread);
        }
    }

    private string DescribePath()
    {
        var parts = new List<string>();
        foreach (Decision d in _path)
        {
            Choice c = d.Choices[d.Chosen];
            string who = c.Thread == Producer ? "P" : "C";
            parts.Add(c.Kind == ActionKind.Flush ? "flush" + who : who);
        }

        return string.Join(" ", parts);
    }
}
