using System.Runtime.CompilerServices;
using Internal.Runtime;

namespace System
{
    /// <summary>
    /// The root of every reference type. NativeAOT's object layout: the first (and only) field is the
    /// pointer to the type's MethodTable; an 8-byte header precedes the object in memory.
    /// </summary>
    public class Object
    {
        internal unsafe MethodTable* m_pEEType;

        public Object() { }

        ~Object() { }

        public virtual bool Equals(object obj) => ReferenceEquals(this, obj);

        public virtual int GetHashCode()
        {
            // No moving collector exists, so an object's address is stable for its whole life.
            object self = this;
            return (int)Unsafe.As<object, nint>(ref self);
        }

        // Without reflection metadata the runtime cannot name an object's type; types that have a
        // meaningful text override this.
        public virtual string ToString() => "System.Object";

        public static bool ReferenceEquals(object objA, object objB) => objA == objB;

        public static bool Equals(object objA, object objB)
        {
            if (objA == objB) return true;
            if (objA is null || objB is null) return false;
            return objA.Equals(objB);
        }

        internal unsafe MethodTable* GetMethodTable() => m_pEEType;
    }
}
