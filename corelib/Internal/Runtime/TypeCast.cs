using System;
using System.Runtime.CompilerServices;
using Internal.Runtime;

namespace System.Runtime
{
    /// <summary>
    /// Casting helpers ILC's generated code calls for is/as/casts and array stores. Supported: exact types,
    /// base-class chains, interfaces a type lists in its interface map, and arrays of reference types whose
    /// element types are so related. Generic variance is not supported: such a cast fails.
    /// </summary>
    internal static unsafe class TypeCast
    {
        // MethodTable.h EETypeElementType values for the kinds this code distinguishes; every value below
        // Class is a primitive or a value type.
        private const uint ElementTypeClass = 0x14;
        private const uint ElementTypeInterface = 0x15;
        private const uint ElementTypeSzArray = 0x18;

        internal static void ThrowInvalidCast() => throw new InvalidCastException();

        private static object IsInstanceOfClass(MethodTable* targetType, object obj)
        {
            if (obj is null) return null;
            for (MethodTable* t = obj.m_pEEType; t != null; t = t->BaseOrElementType)
            {
                if (t == targetType) return obj;
                if (t->ElementType == ElementTypeSzArray) break;
            }
            return null;
        }

        private static object IsInstanceOfInterface(MethodTable* targetType, object obj)
        {
            if (obj is null) return null;
            return ImplementsInterface(obj.m_pEEType, targetType) ? obj : null;
        }

        private static object IsInstanceOfAny(MethodTable* targetType, object obj)
        {
            if (obj is null) return null;
            return AreTypesAssignable(obj.m_pEEType, targetType) ? obj : null;
        }

        private static object IsInstanceOfException(MethodTable* targetType, object obj) => IsInstanceOfClass(targetType, obj);

        private static object CheckCastClass(MethodTable* targetType, object obj)
        {
            if (obj is null || obj.m_pEEType == targetType) return obj;
            if (IsInstanceOfClass(targetType, obj) is null) ThrowInvalidCast();
            return obj;
        }

        private static object CheckCastClassSpecial(MethodTable* targetType, object obj) => CheckCastClass(targetType, obj);

        private static object CheckCastInterface(MethodTable* targetType, object obj)
        {
            if (obj is null) return null;
            if (!ImplementsInterface(obj.m_pEEType, targetType)) ThrowInvalidCast();
            return obj;
        }

        private static object CheckCastAny(MethodTable* targetType, object obj)
        {
            if (obj is null) return null;
            if (!AreTypesAssignable(obj.m_pEEType, targetType)) ThrowInvalidCast();
            return obj;
        }

        private static void StelemRef(object[] array, nint index, object obj)
        {
            if ((nuint)index >= (uint)array.Length) throw new IndexOutOfRangeException();
            ref object element = ref FirstElement(array);
            if (obj is not null)
            {
                MethodTable* elementType = array.m_pEEType->BaseOrElementType;
                if (obj.m_pEEType != elementType && !AreTypesAssignable(obj.m_pEEType, elementType))
                {
                    throw new ArrayTypeMismatchException();
                }
            }
            Unsafe.Add(ref element, index) = obj;
        }

        private static ref object LdelemaRef(object[] array, nint index, MethodTable* elementType)
        {
            if ((nuint)index >= (uint)array.Length) throw new IndexOutOfRangeException();
            if (array.m_pEEType->BaseOrElementType != elementType) throw new ArrayTypeMismatchException();
            return ref Unsafe.Add(ref FirstElement(array), index);
        }

        internal static bool AreTypesAssignable(MethodTable* source, MethodTable* target)
        {
            if (source == target) return true;
            if (target->ElementType == ElementTypeInterface) return ImplementsInterface(source, target);
            if (source->ElementType == ElementTypeSzArray)
            {
                if (target->ElementType != ElementTypeSzArray) return IsSubclassOf(source, target);
                MethodTable* sourceElement = source->BaseOrElementType;
                MethodTable* targetElement = target->BaseOrElementType;
                // Array covariance applies to reference-type elements only (ECMA-335 I.8.7.1).
                return sourceElement == targetElement ||
                       (!IsValueTypeLike(sourceElement) && AreTypesAssignable(sourceElement, targetElement));
            }
            return IsSubclassOf(source, target);
        }

        private static bool IsSubclassOf(MethodTable* source, MethodTable* target)
        {
            // Arrays derive from System.Array; walking an array's RelatedType would visit its element type.
            if (source->ElementType == ElementTypeSzArray) return false;
            for (MethodTable* t = source; t != null; t = t->BaseOrElementType)
            {
                if (t == target) return true;
            }
            return false;
        }

        private static bool IsValueTypeLike(MethodTable* type) => type->ElementType < ElementTypeClass;

        private static bool ImplementsInterface(MethodTable* type, MethodTable* target)
        {
            MethodTable** map = type->InterfaceMap;
            for (int i = 0; i < type->NumInterfaces; i++)
            {
                if (map[i] == target) return true;
            }
            return false;
        }

        // An array's elements start where every array's data does (RawArrayData.Data).
        private static ref object FirstElement(object[] array) => ref Unsafe.As<byte, object>(ref Unsafe.As<RawArrayData>(array).Data);
    }
}
