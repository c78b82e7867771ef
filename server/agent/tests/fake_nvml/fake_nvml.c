/*
 * A stand-in for libnvidia-ml.so.1, for testing the agent's GPU support on
 * machines without NVIDIA GPUs. Tests build it at run time with
 * `cc -shared -fPIC`. It exports the NVML functions the agent looks up and
 * reports FAKE_NVML_COUNT GPUs (default 2) whose minor numbers are their
 * indices plus FAKE_NVML_MINOR_OFFSET (default 0).
 *
 * Built with -DFAKE_NVML_NO_MINOR it lacks nvmlDeviceGetMinorNumber, and
 * with -DFAKE_NVML_INIT_FAILS its nvmlInit_v2 reports NVML_ERROR_DRIVER_NOT_LOADED,
 * so that the agent's error paths can be tested too.
 */

#ifndef FAKE_NVML_COUNT
#define FAKE_NVML_COUNT 2
#endif

#ifndef FAKE_NVML_MINOR_OFFSET
#define FAKE_NVML_MINOR_OFFSET 0
#endif

/* NVML's return codes used here (values as in nvml.h). */
enum {
    FAKE_SUCCESS = 0,
    FAKE_ERROR_UNINITIALIZED = 1,
    FAKE_ERROR_INVALID_ARGUMENT = 2,
    FAKE_ERROR_DRIVER_NOT_LOADED = 9,
};

struct nvmlDevice_st {
    unsigned int index;
};

static struct nvmlDevice_st fake_devices[FAKE_NVML_COUNT];
static int fake_initialized;

int nvmlInit_v2(void)
{
#ifdef FAKE_NVML_INIT_FAILS
    return FAKE_ERROR_DRIVER_NOT_LOADED;
#else
    unsigned int i;
    for (i = 0; i < FAKE_NVML_COUNT; i++) {
        fake_devices[i].index = i;
    }
    fake_initialized = 1;
    return FAKE_SUCCESS;
#endif
}

int nvmlShutdown(void)
{
    if (!fake_initialized) {
        return FAKE_ERROR_UNINITIALIZED;
    }
    fake_initialized = 0;
    return FAKE_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!fake_initialized) {
        return FAKE_ERROR_UNINITIALIZED;
    }
    if (count == 0) {
        return FAKE_ERROR_INVALID_ARGUMENT;
    }
    *count = FAKE_NVML_COUNT;
    return FAKE_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, struct nvmlDevice_st **device)
{
    if (!fake_initialized) {
        return FAKE_ERROR_UNINITIALIZED;
    }
    if (device == 0 || index >= FAKE_NVML_COUNT) {
        return FAKE_ERROR_INVALID_ARGUMENT;
    }
    *device = &fake_devices[index];
    return FAKE_SUCCESS;
}

#ifndef FAKE_NVML_NO_MINOR
int nvmlDeviceGetMinorNumber(struct nvmlDevice_st *device, unsigned int *minor)
{
    if (!fake_initialized) {
        return FAKE_ERROR_UNINITIALIZED;
    }
    if (device == 0 || minor == 0) {
        return FAKE_ERROR_INVALID_ARGUMENT;
    }
    *minor = device->index + FAKE_NVML_MINOR_OFFSET;
    return FAKE_SUCCESS;
}
#endif

const char *nvmlErrorString(int result)
{
    switch (result) {
    case FAKE_SUCCESS:
        return "Success";
    case FAKE_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case FAKE_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case FAKE_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    default:
        return "Unknown Error";
    }
}
