package io.boxlite.vmm.transport.mmio;

import io.boxlite.BoxliteException;
import io.boxlite.vmm.devices.virtio.DeviceStatus;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.memory.GuestMemory;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The virtio-mmio transport, version 2 (virtio 1.x §4.2.2): the register file of one device's
 * MMIO window, written as one flat switch on the register offset. The engine forwards guest
 * accesses at {@code window base + offset} to {@link #read}/{@link #write}; with ioeventfd it
 * registers the QueueNotify address ({@link #QUEUE_NOTIFY}, data = queue index) and calls
 * {@link #notifyQueue} from its event loop; {@link IrqTrigger} raises the interrupt (irqfd).
 *
 * <p>The driver's status sequence is enforced: features are accepted only between DRIVER and
 * FEATURES_OK; FEATURES_OK is refused (stays clear when read back) unless VERSION_1 was
 * acknowledged; DRIVER_OK activates the device with its ready queues, and a layout the queues
 * reject sets DEVICE_NEEDS_RESET instead; writing 0 resets everything. Malformed accesses are
 * logged and ignored, never thrown. Thread-safe: several vCPUs may access the window.
 *
 * {@snippet :
 * MmioTransport mmio = new MmioTransport(device, memory, () -> irqfd.write(1));
 * byte[] value = new byte[4];
 * mmio.read(MmioTransport.MAGIC_VALUE, value);   // "virt"
 * }
 */
public final class MmioTransport {
    private static final System.Logger LOG = System.getLogger(MmioTransport.class.getName());

    /** Bytes of guest-physical space one device window takes. */
    public static final long WINDOW_SIZE = 0x1000;

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;

    /** "virt" in little-endian. */
    public static final int MAGIC = 0x74726976;
    public static final int MMIO_VERSION = 2;
    /** Vendor id reported to the guest (informational only). */
    public static final int VENDOR = 0x4c584f42; // "BOXL"

    public static final int INT_USED_RING = 1;
    public static final int INT_CONFIG = 2;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final IrqTrigger irq;
    private final List<Virtqueue> queues;
    private final AtomicInteger status = new AtomicInteger();
    private final AtomicInteger interruptStatus = new AtomicInteger();
    private final AtomicInteger configGeneration = new AtomicInteger();

    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private int queueSel;
    private Activation activation;

    public MmioTransport(VirtioDevice device, GuestMemory memory, IrqTrigger irq) {
        this.device = Objects.requireNonNull(device);
        this.memory = Objects.requireNonNull(memory);
        this.irq = Objects.requireNonNull(irq);
        List<Virtqueue> qs = new ArrayList<>();
        for (int max : device.queueMaxSizes()) {
            qs.add(new Virtqueue(max));
        }
        this.queues = List.copyOf(qs);
    }

    public VirtioDevice device() {
        return device;
    }

    /** The device status register as the driver would read it. */
    public int status() {
        return status.get();
    }

    /** Pending interrupt causes ({@link #INT_USED_RING}, {@link #INT_CONFIG}). */
    public int interruptStatus() {
        return interruptStatus.get();
    }

    /** A guest read of {@code data.length} bytes at {@code offset} inside the window. */
    public synchronized void read(long offset, byte[] data) {
        if (offset >= CONFIG) {
            device.readConfig(offset - CONFIG, data);
            return;
        }
        java.util.Arrays.fill(data, (byte) 0);
        if (data.length != 4 || (offset & 3) != 0) {
            LOG.log(Level.WARNING, "virtio-mmio: {0}-byte read at 0x{1} is not an aligned 32-bit register access; reading 0",
                    data.length, Long.toHexString(offset));
            return;
        }
        putLe32(data, readRegister((int) offset));
    }

    private int readRegister(int offset) {
        return switch (offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION -> MMIO_VERSION;
            case DEVICE_ID -> device.deviceType();
            case VENDOR_ID -> VENDOR;
            case DEVICE_FEATURES -> switch (deviceFeaturesSel) {
                case 0 -> (int) device.availFeatures();
                case 1 -> (int) (device.availFeatures() >>> 32);
                default -> 0;
            };
            case QUEUE_NUM_MAX -> selectedQueue() == null ? 0 : selectedQueue().maxSize();
            case QUEUE_READY -> selectedQueue() != null && selectedQueue().ready() ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus.get();
            case STATUS -> status.get();
            case SHM_LEN_LOW, SHM_LEN_HIGH -> -1; // no shared memory regions: length ~0 means "absent"
            case CONFIG_GENERATION -> configGeneration.get();
            default -> {
                LOG.log(Level.DEBUG, "virtio-mmio: read of write-only or unknown register 0x{0}", Integer.toHexString(offset));
                yield 0;
            }
        };
    }

    /** A guest write of {@code data} at {@code offset} inside the window. */
    public synchronized void write(long offset, byte[] data) {
        if (offset >= CONFIG) {
            device.writeConfig(offset - CONFIG, data);
            return;
        }
        if (data.length != 4 || (offset & 3) != 0) {
            LOG.log(Level.WARNING, "virtio-mmio: {0}-byte write at 0x{1} is not an aligned 32-bit register access; ignored",
                    data.length, Long.toHexString(offset));
            return;
        }
        int v = (data[0] & 0xff) | (data[1] & 0xff) << 8 | (data[2] & 0xff) << 16 | (data[3] & 0xff) << 24;
        writeRegister((int) offset, v);
    }

    private void writeRegister(int offset, int v) {
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case DRIVER_FEATURES -> writeDriverFeatures(v);
            case QUEUE_SEL -> queueSel = v;
            case QUEUE_NUM -> configureQueue(q -> q.setSize(v));
            case QUEUE_READY -> configureQueue(q -> q.setReady(v == 1));
            case QUEUE_DESC_LOW -> configureQueue(q -> q.setDescTable(low(q.descTable(), v)));
            case QUEUE_DESC_HIGH -> configureQueue(q -> q.setDescTable(high(q.descTable(), v)));
            case QUEUE_DRIVER_LOW -> configureQueue(q -> q.setAvailRing(low(q.availRing(), v)));
            case QUEUE_DRIVER_HIGH -> configureQueue(q -> q.setAvailRing(high(q.availRing(), v)));
            case QUEUE_DEVICE_LOW -> configureQueue(q -> q.setUsedRing(low(q.usedRing(), v)));
            case QUEUE_DEVICE_HIGH -> configureQueue(q -> q.setUsedRing(high(q.usedRing(), v)));
            case QUEUE_NOTIFY -> notifyQueue(v);
            case INTERRUPT_ACK -> interruptStatus.getAndUpdate(s -> s & ~v);
            case STATUS -> writeStatus(v);
            case SHM_SEL -> { } // no shared memory regions; the length registers say so
            default -> LOG.log(Level.WARNING, "virtio-mmio: write to read-only or unknown register 0x{0} ignored",
                    Integer.toHexString(offset));
        }
    }

    /**
     * The driver kicked queue {@code index}: from a QueueNotify write or, with ioeventfd, from
     * the engine's event loop. Ignored unless the device is running.
     */
    public void notifyQueue(int index) {
        if ((status.get() & DeviceStatus.DRIVER_OK) == 0 || index < 0 || index >= queues.size()) {
            LOG.log(Level.DEBUG, "virtio-mmio: notify of queue {0} ignored (status {1})", index, DeviceStatus.describe(status.get()));
            return;
        }
        device.queueNotify(index);
    }

    private void writeDriverFeatures(int v) {
        int s = status.get();
        if ((s & DeviceStatus.DRIVER) == 0 || (s & DeviceStatus.FEATURES_OK) != 0) {
            LOG.log(Level.WARNING, "virtio-mmio: driver features written in status {0}; ignored", DeviceStatus.describe(s));
            return;
        }
        switch (driverFeaturesSel) {
            case 0 -> driverFeatures = (driverFeatures & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(v);
            case 1 -> driverFeatures = (driverFeatures & 0xffff_ffffL) | ((long) v << 32);
            default -> {
                if (v != 0) {
                    LOG.log(Level.WARNING, "virtio-mmio: driver set features 0x{0} in page {1}, beyond 64 bits; ignored",
                            Integer.toHexString(v), driverFeaturesSel);
                }
            }
        }
    }

    private void configureQueue(java.util.function.Consumer<Virtqueue> change) {
        Virtqueue q = selectedQueue();
        if (q == null) {
            LOG.log(Level.WARNING, "virtio-mmio: queue register written with QueueSel {0} of {1} queues; ignored", queueSel, queues.size());
            return;
        }
        if ((status.get() & DeviceStatus.DRIVER_OK) != 0) {
            LOG.log(Level.WARNING, "virtio-mmio: queue {0} reconfigured after DRIVER_OK; ignored", queueSel);
            return;
        }
        change.accept(q);
    }

    private Virtqueue selectedQueue() {
        return queueSel >= 0 && queueSel < queues.size() ? queues.get(queueSel) : null;
    }

    private void writeStatus(int v) {
        if (v == 0) {
            reset();
            return;
        }
        int old = status.get();
        int requested = v & ~DeviceStatus.DEVICE_NEEDS_RESET; // only the device sets that bit
        if ((requested & old & ~DeviceStatus.DEVICE_NEEDS_RESET) != (old & ~DeviceStatus.DEVICE_NEEDS_RESET)) {
            LOG.log(Level.WARNING, "virtio-mmio: status {0} would clear bits of {1}; only a write of 0 resets; ignored",
                    DeviceStatus.describe(v), DeviceStatus.describe(old));
            return;
        }
        int added = requested & ~old;
        if ((added & DeviceStatus.FEATURES_OK) != 0 && !acceptFeatures(old)) {
            requested &= ~DeviceStatus.FEATURES_OK;
            added &= ~DeviceStatus.FEATURES_OK;
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0 && (requested & DeviceStatus.FEATURES_OK) == 0) {
            LOG.log(Level.WARNING, "virtio-mmio: DRIVER_OK without FEATURES_OK; ignored");
            requested &= ~DeviceStatus.DRIVER_OK;
            added &= ~DeviceStatus.DRIVER_OK;
        }
        int keep = requested;
        status.getAndUpdate(s -> keep | (s & DeviceStatus.DEVICE_NEEDS_RESET));
        if ((added & DeviceStatus.DRIVER_OK) != 0) {
            activate();
        }
        if ((added & DeviceStatus.FAILED) != 0) {
            LOG.log(Level.WARNING, "virtio-mmio: the driver gave up on device type {0} (FAILED)", device.deviceType());
        }
    }

    private boolean acceptFeatures(int old) {
        if ((old & DeviceStatus.DRIVER) == 0) {
            LOG.log(Level.WARNING, "virtio-mmio: FEATURES_OK before DRIVER; refused");
            return false;
        }
        device.ackFeatures(driverFeatures);
        if (!VirtioFeatures.has(device.ackedFeatures(), VirtioFeatures.VERSION_1)) {
            LOG.log(Level.WARNING, "virtio-mmio: driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported; "
                    + "use a modern virtio-mmio driver); FEATURES_OK refused");
            return false;
        }
        return true;
    }

    private void activate() {
        long acked = device.ackedFeatures();
        Activation a = new Activation();
        try {
            for (int i = 0; i < queues.size(); i++) {
                Virtqueue q = queues.get(i);
                if (q.ready()) {
                    try {
                        q.activate(memory, acked);
                    } catch (BoxliteException e) {
                        throw new BoxliteException(e.code(), "queue " + i + ": " + e.getMessage(), e);
                    }
                }
            }
            activation = a;
            device.activate(memory, queues, a);
        } catch (RuntimeException e) {
            a.needsReset(-1, "activation failed: " + e.getMessage());
        }
    }

    private void reset() {
        if (activation != null) {
            activation.live = false;
            activation = null;
        }
        device.reset();
        for (Virtqueue q : queues) {
            q.reset();
        }
        status.set(0);
        interruptStatus.set(0);
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        driverFeatures = 0;
    }

    /** The {@link Interrupt} handed to one activation; dead after the next reset. */
    private final class Activation implements Interrupt {
        private volatile boolean live = true;

        @Override
        public void signalUsed(int queue) {
            raise(INT_USED_RING);
        }

        @Override
        public void signalConfigChange() {
            configGeneration.incrementAndGet();
            raise(INT_CONFIG);
        }

        @Override
        public void needsReset(int queue, String reason) {
            if (!live) {
                return;
            }
            LOG.log(Level.WARNING, "virtio-mmio: device type {0} needs reset (queue {1}): {2}", device.deviceType(), queue, reason);
            status.getAndUpdate(s -> s | DeviceStatus.DEVICE_NEEDS_RESET);
            raise(INT_CONFIG);
        }

        private void raise(int cause) {
            if (!live) {
                return;
            }
            interruptStatus.getAndUpdate(s -> s | cause);
            irq.trigger();
        }
    }

    private static long low(long current, int v) {
        return (current & 0xffff_ffff_0000_0000L) | Integer.toUnsignedLong(v);
    }

    private static long high(long current, int v) {
        return (current & 0xffff_ffffL) | ((long) v << 32);
    }

    private static void putLe32(byte[] b, int v) {
        b[0] = (byte) v;
        b[1] = (byte) (v >>> 8);
        b[2] = (byte) (v >>> 16);
        b[3] = (byte) (v >>> 24);
    }
}
