namespace System
{
    /// <summary>
    /// The root of all exceptions. There is no unwinder yet: a throw reports the exception (type, message,
    /// the throwing site) through the image's fatal-error handler and stops, so a throw is never silent.
    /// </summary>
    public class Exception
    {
        private readonly string _message;

        public Exception() { }

        public Exception(string message) { _message = message; }

        public Exception(string message, Exception innerException)
        {
            _message = message;
            InnerException = innerException;
        }

        public virtual string Message => _message ?? "An exception was thrown.";

        public Exception InnerException { get; }
    }

    public class SystemException : Exception
    {
        public SystemException() { }
        public SystemException(string message) : base(message) { }
    }

    public class ArgumentException : SystemException
    {
        public ArgumentException() { }
        public ArgumentException(string message) : base(message) { }
    }

    public class ArgumentNullException : ArgumentException
    {
        public ArgumentNullException() { }
        public ArgumentNullException(string paramName) : base(paramName) { }
    }

    public class ArgumentOutOfRangeException : ArgumentException
    {
        public ArgumentOutOfRangeException() { }
        public ArgumentOutOfRangeException(string paramName) : base(paramName) { }
    }

    public class IndexOutOfRangeException : SystemException
    {
        public IndexOutOfRangeException() : base("Index was outside the bounds of the array.") { }
    }

    public class InvalidOperationException : SystemException
    {
        public InvalidOperationException() { }
        public InvalidOperationException(string message) : base(message) { }
    }

    public class NotSupportedException : SystemException
    {
        public NotSupportedException() { }
        public NotSupportedException(string message) : base(message) { }
    }

    public class NullReferenceException : SystemException
    {
        public NullReferenceException() : base("Object reference not set to an instance of an object.") { }
    }

    public class InvalidCastException : SystemException
    {
        public InvalidCastException() : base("Specified cast is not valid.") { }
    }

    public class ArrayTypeMismatchException : SystemException
    {
        public ArrayTypeMismatchException() : base("Attempted to access an element as a type incompatible with the array.") { }
    }

    public class OverflowException : SystemException
    {
        public OverflowException() : base("Arithmetic operation resulted in an overflow.") { }
    }

    public class DivideByZeroException : SystemException
    {
        public DivideByZeroException() : base("Attempted to divide by zero.") { }
    }

    public class OutOfMemoryException : SystemException
    {
        public OutOfMemoryException() : base("Insufficient memory to continue the execution of the program.") { }
    }

    public class PlatformNotSupportedException : NotSupportedException
    {
        public PlatformNotSupportedException() { }
        public PlatformNotSupportedException(string message) : base(message) { }
    }

    public class FormatException : SystemException
    {
        public FormatException(string message) : base(message) { }
    }

    /// <summary>Throw sites kept out of line so the callers' fast paths stay small.</summary>
    internal static class ThrowHelper
    {
        internal static void ThrowIndexOutOfRangeException() => throw new IndexOutOfRangeException();
        internal static void ThrowArgumentException(string message) => throw new ArgumentException(message);
        internal static void ThrowArgumentOutOfRangeException(string paramName) => throw new ArgumentOutOfRangeException(paramName);
        internal static void ThrowInvalidOperationException(string message) => throw new InvalidOperationException(message);
        internal static void ThrowNotSupportedException(string message) => throw new NotSupportedException(message);
    }
}
