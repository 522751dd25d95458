export const ORT_VERSION = "1.30.0";
