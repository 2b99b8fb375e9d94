/* placeholder until the renderer lands */
typedef int smi_placeholder_t;
