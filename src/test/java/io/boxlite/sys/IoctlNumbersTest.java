package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ioctl request numbers jextract evaluated must agree with the struct layouts it generated:
 * bits 16–29 of each request are {@code sizeof} its argument.
 */
class IoctlNumbersTest {
    // #define KVM_SET_REGS _IOW(KVMIO, 0x82, struct kvm_regs), possibly continued with a backslash
    private static final Pattern DEFINE = Pattern.compile(
            "^#define\\s+(KVM_\\w+)\\s+_IO(R|W|WR)\\(KVMIO,\\s*(0x[0-9a-fA-F]+),[\\s\\\\]*struct\\s+(\\w+)\\s*\\)", Pattern.MULTILINE);

    private static long size(long request) {
        return (request >>> 16) & 0x3FFF;
    }

    private static long constant(String name) throws ReflectiveOperationException {
        Method m = BoxliteSys.class.getMethod(name);
        return ((Number) m.invoke(null)).longValue() & 0xFFFF_FFFFL;
    }

    private static long structSize(String struct) throws ReflectiveOperationException {
        Class<?> c = Class.forName("io.boxlite.sys.gen." + struct);
        return ((GroupLayout) c.getMethod("layout").invoke(null)).byteSize();
    }

    @Test
    void wellKnownRequestsHaveTheirKernelValues() throws ReflectiveOperationException {
        assertEquals(0xAE01L, constant("KVM_CREATE_VM"));
        assertEquals(0xAE80L, constant("KVM_RUN"));
        assertEquals(0x4090AE82L, constant("KVM_SET_REGS"));
        assertEquals(0x8090AE81L, constant("KVM_GET_REGS"));
        assertEquals(0x4020AE46L, constant("KVM_SET_USER_MEMORY_REGION"));
        assertEquals(0x4020AE76L, constant("KVM_IRQFD"));
        assertEquals(0x4040AE79L, constant("KVM_IOEVENTFD"));
        assertEquals(0xC008AE05L, constant("KVM_GET_SUPPORTED_CPUID"));
    }

    @Test
    void everyStructRequestEncodesItsStructSize() throws IOException, ReflectiveOperationException {
        Path header = Path.of("/usr/include/linux/kvm.h");
        assertTrue(Files.exists(header), "linux-libc-dev provides " + header + " (bin/setup installs it)");
        Matcher m = DEFINE.matcher(Files.readString(header));
        List<String> checked = new ArrayList<>();
        while (m.find()) {
            String name = m.group(1);
            String struct = m.group(4);
            long request;
            long expected;
            try {
                request = constant(name);
                expected = structSize(struct);
            } catch (NoSuchMethodException | ClassNotFoundException notGenerated) {
                continue; // non-x86 request or a struct we chose not to generate
            }
            assertEquals(expected, size(request), name + " encodes sizeof(struct " + struct + ")");
            assertEquals(0xAE, (request >>> 8) & 0xFF, name + " is a KVM request");
            checked.add(name);
        }
        assertTrue(checked.size() >= 40, "checked only " + checked.size() + " requests: " + checked);
        assertTrue(checked.containsAll(List.of("KVM_SET_REGS", "KVM_GET_SREGS", "KVM_SET_CPUID2", "KVM_SET_MSRS",
                "KVM_IOEVENTFD", "KVM_IRQFD", "KVM_SET_USER_MEMORY_REGION", "KVM_CREATE_PIT2", "KVM_GET_LAPIC",
                "KVM_SET_SIGNAL_MASK", "KVM_SET_MP_STATE", "KVM_SET_FPU")), checked.toString());
    }

    @Test
    void layoutsMatchTheKernelAbi() {
        // Sizes from the x86-64 ABI, as gcc computes them.
        assertEquals(144, io.boxlite.sys.gen.kvm_regs.sizeof());
        assertEquals(312, io.boxlite.sys.gen.kvm_sregs.sizeof());
        assertEquals(2352, io.boxlite.sys.gen.kvm_run.sizeof());
        assertEquals(32, io.boxlite.sys.gen.kvm_run.io$offset(), "the exit union starts at 32");
        assertEquals(416, io.boxlite.sys.gen.kvm_fpu.sizeof());
        assertEquals(1024, io.boxlite.sys.gen.kvm_lapic_state.sizeof());
        assertEquals(40, io.boxlite.sys.gen.kvm_cpuid_entry2.sizeof());
        assertEquals(12, io.boxlite.sys.gen.epoll_event.sizeof(), "epoll_event is packed on x86-64");
        assertEquals(16, io.boxlite.sys.gen.cmsghdr.sizeof());
        assertEquals(56, io.boxlite.sys.gen.msghdr.sizeof());
        assertEquals(110, io.boxlite.sys.gen.sockaddr_un.sizeof());
    }

    @Test
    void cmsgArithmeticMatchesGlibcMacros() {
        // CMSG_SPACE(sizeof(int)) == 24, CMSG_LEN(sizeof(int)) == 20 on x86-64 glibc.
        assertEquals(24, Libc.cmsgSpace(4));
        assertEquals(20, Libc.cmsgLen(4));
        assertEquals(32, Libc.cmsgSpace(16));
        assertEquals(24, Libc.cmsgNext(0, 20));
    }
}
